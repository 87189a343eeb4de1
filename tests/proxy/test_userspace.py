"""The userspace mode proxies real TCP and UDP connections to backends the model allows, round
robin, and keeps a client on one backend under ClientIP affinity."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from impl.proxy.machine import current_cluster, init, on_event
from models.proxy.events import (
    EndpointSliceUpserted,
    InitialListsSynced,
    ProxyCommand,
    ProxyEvent,
    ServiceUpserted,
    SyncDue,
    UserspaceRoute,
    UserspaceTable,
)
from models.proxy.packet import Forwarded, Packet
from models.proxy.state import ProxyMachineConfig
from runner.proxy.userspace import UserspaceProxy
from spec.proxy.model import outcome
from tests.proxy.builders import config, endpoint_slice, ep, service, tcp


async def tcp_backend(name: str) -> tuple[asyncio.AbstractServer, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read(100)
        writer.write(f"{name}:{request.decode()}".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is not a DatagramTransport subclass in 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"udp:" + data, addr)


def table(services: list[Any], slices: list[Any]) -> tuple[UserspaceTable, Any]:
    setup = ProxyMachineConfig(proxy=config(), mode="userspace")
    state = init(setup).state
    commands: list[ProxyCommand] = []
    events: list[ProxyEvent] = [
        *(ServiceUpserted(service=s) for s in services),
        *(EndpointSliceUpserted(endpoint_slice=s) for s in slices),
        InitialListsSynced(),
        SyncDue(now_seconds=0),
    ]
    for event in events:
        step = on_event(setup, state, event)
        state = step.state
        commands.extend(step.commands)
    (command,) = commands
    assert isinstance(command, UserspaceTable)
    return command, current_cluster(state)


async def ask(port: int, text: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(text.encode())
    await writer.drain()
    writer.write_eof()
    answer = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    return answer.decode()


def route_for(command: UserspaceTable, address: str) -> UserspaceRoute:
    return next(r for r in command.routes if r.address == address)


def test_tcp_round_robin_reaches_the_backends_the_model_allows() -> None:
    async def scenario() -> list[str]:
        first, first_port = await tcp_backend("a")
        second, second_port = await tcp_backend("b")
        services = [service("ns", "web", "172.30.0.1", [tcp("http", 80)])]
        slices = [
            endpoint_slice("ns", "web", [ep("127.0.0.1")], [tcp("http", first_port)], suffix="1"),
            endpoint_slice("ns", "web", [ep("127.0.0.1")], [tcp("http", second_port)], suffix="2"),
        ]
        command, cluster = table(services, slices)
        expected = outcome(
            config(), cluster, Packet(source="10.0.0.9", destination="172.30.0.1", port=80)
        )
        assert isinstance(expected, Forwarded)
        allowed = {s.backend for s in expected.shares}
        assert allowed == {f"127.0.0.1:{first_port}", f"127.0.0.1:{second_port}"}
        proxy = UserspaceProxy()
        await proxy.replace(command.routes)
        port = proxy.port_of(route_for(command, "172.30.0.1"))
        answers = [await ask(port, f"hello{i}") for i in range(4)]
        await proxy.close()
        first.close()
        second.close()
        return answers

    answers = asyncio.run(scenario())
    assert sorted(answers) == ["a:hello0", "a:hello2", "b:hello1", "b:hello3"] or sorted(
        answers
    ) == ["a:hello1", "a:hello3", "b:hello0", "b:hello2"]


def test_client_ip_affinity_keeps_the_backend() -> None:
    async def scenario() -> list[str]:
        first, first_port = await tcp_backend("a")
        second, second_port = await tcp_backend("b")
        services = [
            service("ns", "web", "172.30.0.1", [tcp("http", 80)], sessionAffinity="ClientIP")
        ]
        slices = [
            endpoint_slice("ns", "web", [ep("127.0.0.1")], [tcp("http", first_port)], suffix="1"),
            endpoint_slice("ns", "web", [ep("127.0.0.1")], [tcp("http", second_port)], suffix="2"),
        ]
        command, _ = table(services, slices)
        proxy = UserspaceProxy()
        await proxy.replace(command.routes)
        port = proxy.port_of(route_for(command, "172.30.0.1"))
        answers = [(await ask(port, "x"))[0] for _ in range(5)]
        await proxy.close()
        first.close()
        second.close()
        return answers

    assert len(set(asyncio.run(scenario()))) == 1


def test_udp_datagrams_are_relayed_and_a_service_without_endpoints_is_refused() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        loop = asyncio.get_running_loop()
        echo, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        echo_port = echo.get_extra_info("sockname")[1]
        udp_port = {"name": "dns", "port": 53, "protocol": "UDP"}
        services = [
            service("ns", "dns", "172.30.0.2", [udp_port]),
            service("ns", "empty", "172.30.0.3", [tcp("http", 80)]),
        ]
        slices = [endpoint_slice("ns", "dns", [ep("127.0.0.1")], [{**udp_port, "port": echo_port}])]
        command, _ = table(services, slices)
        proxy = UserspaceProxy()
        await proxy.replace(command.routes)
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                answers.put_nowait(data)

        port = proxy.port_of(route_for(command, "172.30.0.2"))
        client, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
        client.sendto(b"q")
        reply = await asyncio.wait_for(answers.get(), 5)
        refused_port = proxy.port_of(route_for(command, "172.30.0.3"))
        reader, writer = await asyncio.open_connection("127.0.0.1", refused_port)
        closed = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        client.close()
        echo.close()
        await proxy.close()
        return reply, closed

    reply, closed = asyncio.run(scenario())
    assert reply == b"udp:q"
    assert closed == b""
