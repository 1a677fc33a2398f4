"""`vareon events tail`: CloudEvents from a topic, decoded from Kafka binary mode."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaConsumer, TopicPartition
from vareon_contracts import decode_kafka
from vareon_contracts.envelope import MalformedEvent


async def tail(bootstrap: str, topic: str, *, from_beginning: bool = False) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await asyncio.sleep(0.5)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        async for record in consumer:
            try:
                envelope = decode_kafka(record.value, list(record.headers or []))
                event = {"specversion": "1.0", **envelope.model_dump(mode="json")}
            except MalformedEvent as exc:  # a foreign message must not stop the tail
                event = {
                    "undecodable": str(exc),
                    "partition": record.partition,
                    "offset": record.offset,
                }
            print(json.dumps(event), flush=True)
    finally:
        await consumer.stop()
