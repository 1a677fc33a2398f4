"""Agents and their commands; every route is scoped to the caller (the agents' owner)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize, encode_cursor

from vareon_myntrix import agents
from vareon_myntrix.api.deps import PREFIX, settings
from vareon_myntrix.lifecycle import AgentStatus
from vareon_myntrix.schemas import (
    ActionIn,
    AgentIn,
    AgentOut,
    AgentPage,
    AgentPatch,
    CommandOut,
    CommandReport,
)

router = APIRouter(prefix=PREFIX, tags=["agents"])


@router.get("/agents")
async def list_agents(
    session: SessionDep,
    user: CurrentUser,
    limit: PageSize = 50,
    cursor: Cursor = None,
    status: AgentStatus | None = None,
) -> AgentPage:
    rows = await agents.page(
        session, user.id, limit=limit, cursor=cursor, status=str(status) if status else None
    )
    items = [AgentOut.model_validate(a) for a in rows[:limit]]
    more = len(rows) > limit
    return AgentPage(
        items=items,
        next_cursor=encode_cursor(items[-1].created_at, items[-1].id) if more else None,
    )


@router.post("/agents", status_code=status.HTTP_201_CREATED)
async def create_agent(session: SessionDep, user: CurrentUser, body: AgentIn) -> AgentOut:
    agent = await agents.create(
        session,
        user.id,
        name=body.name,
        kind=body.kind,
        model=body.model,
        configuration=body.configuration.model_dump(mode="json"),
    )
    return AgentOut.model_validate(agent)


@router.get("/agents/{agent_id}")
async def get_agent(session: SessionDep, user: CurrentUser, agent_id: uuid.UUID) -> AgentOut:
    return AgentOut.model_validate(await agents.get(session, user.id, agent_id))


@router.patch("/agents/{agent_id}")
async def update_agent(
    session: SessionDep, user: CurrentUser, agent_id: uuid.UUID, body: AgentPatch
) -> AgentOut:
    agent = await agents.update_agent(
        session,
        user.id,
        agent_id,
        name=body.name,
        model=body.model,
        configuration=body.configuration,
    )
    return AgentOut.model_validate(agent)


@router.delete("/agents/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(session: SessionDep, user: CurrentUser, agent_id: uuid.UUID) -> Response:
    """Only a stopped or failed agent can be deleted (409 otherwise)."""
    await agents.remove(session, user.id, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/agents/actions",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: problem_response("Some agents are not the caller's or do not exist")},
)
async def act_on_agents(
    request: Request, session: SessionDep, user: CurrentUser, body: ActionIn
) -> list[CommandOut]:
    """Start, stop or restart many agents: one command per agent, in the order given.

    Repeating a request with the same idempotency key returns the same commands (each
    (key, agent) pair creates one command). If any agent cannot take the action in its
    current status, nothing is done and the answer is a 409 listing those agents."""
    commands = await agents.act(
        session,
        user.id,
        body.agent_ids,
        str(body.action),
        body.idempotency_key,
        settings(request).command_ttl_s,
    )
    return [CommandOut.model_validate(c) for c in commands]


@router.get("/commands/{command_id}")
async def get_command(session: SessionDep, user: CurrentUser, command_id: uuid.UUID) -> CommandOut:
    return CommandOut.model_validate(await agents.get_command(session, user.id, command_id))


@router.post("/commands/{command_id}/report")
async def report_command(
    session: SessionDep, user: CurrentUser, command_id: uuid.UUID, body: CommandReport
) -> CommandOut:
    """The agent runtime reports progress; a final outcome moves the agent's lifecycle."""
    command = await agents.report(session, user.id, command_id, body.state, body.detail)
    return CommandOut.model_validate(command)
