"""A minimal faust-streaming worker used by the tests to prove faust talks to the real Kafka.

It upper-cases every value from ECHO_SRC into ECHO_DST, keeping the key.
"""

from __future__ import annotations

import os

import faust

app = faust.App(
    os.environ["ECHO_APP_ID"],
    broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP_SERVERS']}",
    store="memory://",
    datadir=os.environ["ECHO_DATADIR"],
    web_enabled=False,
    topic_partitions=1,
)
source = app.topic(os.environ["ECHO_SRC"], key_serializer="raw", value_serializer="raw")
destination = app.topic(os.environ["ECHO_DST"], key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def echo(stream):  # type: ignore[no-untyped-def]
    async for key, value in stream.items():
        await destination.send(key=key, value=value.upper())


if __name__ == "__main__":
    app.main()
