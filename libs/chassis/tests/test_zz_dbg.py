from test_replay import *
from test_replay import test_republish_by_key_sends_the_same_events_again as test_a

async def test_b(infrastructure):
    b = infrastructure.kafka_bootstrap
    c = EventConsumer(name=f"lag-test-{uuid.uuid4().hex[:6]}", topics=(IDENTITY_USER,))
    print(await replay.reset_group(b, c.name, c.topics, to="latest", execute=True))
    await produce(b, [registered("lag") for _ in range(4)])
    async with offsets.reader(b, c.name) as k:
        tps = await offsets.partitions(k, c.topics); k.assign(tps)
        print(await k.end_offsets(tps), await offsets.committed(k, tps))
        for s in await offsets.spans(k, c.topics):
            print(s)
