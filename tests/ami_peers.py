"""Small AMI peers for link tests: exactly the bytes a test asks for, nothing simulated."""

from __future__ import annotations

import asyncio
import contextlib


class ScriptedAsterisk:
    """A tiny AMI peer that sends exactly the bytes a test gives it."""

    def __init__(self, after_login: list[bytes], answer_pings: bool = True) -> None:
        self.after_login = after_login
        self.answer_pings = answer_pings
        self.logins = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                reply = f"ActionID: {fields.get('ActionID', '')}\r\n"
                action = fields.get("Action", "").lower()
                if action == "login":
                    self.logins += 1
                    writer.write(f"Response: Success\r\n{reply}Message: Authentication accepted\r\n\r\n".encode())
                    writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
                    for chunk in self.after_login:
                        writer.write(chunk)
                        await writer.drain()
                        await asyncio.sleep(0.01)
                elif action == "coreshowchannels":
                    writer.write(f"Response: Success\r\n{reply}EventList: start\r\nMessage: Channels will follow\r\n\r\n"
                                 f"Event: CoreShowChannelsComplete\r\n{reply}EventList: Complete\r\nListItems: 0\r\n\r\n".encode())
                elif action == "queuestatus":
                    writer.write(f"Response: Success\r\n{reply}EventList: start\r\nMessage: Queue status will follow\r\n\r\n"
                                 f"Event: QueueStatusComplete\r\n{reply}EventList: Complete\r\nListItems: 0\r\n\r\n".encode())
                elif action == "ping" and self.answer_pings:
                    writer.write(f"Response: Success\r\n{reply}Ping: Pong\r\nTimestamp: 1.0\r\n\r\n".encode())
                await writer.drain()

    async def stop(self) -> None:
        self.server.close()
