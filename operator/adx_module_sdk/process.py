"""The first code of a module's process: confine it, load the module, answer the runner.

Why it exists: the runner starts ``python -I -m adx_module_sdk.process`` with one socket (fd 3)
and nothing else it trusts; this waits for ``init`` (the package, the limits, the identity, the
configuration), confines the process (:mod:`confinement`) *before* any of the module's code is
imported, then serves the runner's calls until ``stop`` or the socket closes. A failure before
the module starts is answered to ``init`` with the reason, never swallowed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import importlib.util
import inspect
import os
import socket
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from adx_module_sdk.channel import Channel
from adx_module_sdk.confinement import (
    Confinement,
    ConfinementError,
    Enforced,
    Limits,
    confine,
    die_with_parent,
)
from adx_module_sdk.errors import BadInputError, SdkError
from adx_module_sdk.handle import Identity, Sdk, Transport
from adx_module_sdk.module import Event, Module, Request, Response

SOCKET_FD = 3
ENTRY = "src/module.py"


class LoadError(SdkError):
    """The package has no module the runner can start."""

    code = "LoadError"


def module_classes(package: Path, name: str = "module") -> list[type[Module]]:
    """The :class:`Module` subclasses defined in the package's ``src/module.py``, imported as
    ``name`` (its own name in a process it shares with others)."""
    path = package / ENTRY
    if not path.is_file():
        raise LoadError(f"the package has no {ENTRY}")
    if name == "module":
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"{ENTRY} cannot be imported")
    code = importlib.util.module_from_spec(spec)
    sys.modules[name] = code
    spec.loader.exec_module(code)
    return [
        value
        for value in vars(code).values()
        if inspect.isclass(value)
        and issubclass(value, Module)
        and value is not Module
        and value.__module__ == name
    ]


def load(package: Path, name: str = "module") -> type[Module]:
    """The one :class:`Module` subclass defined in the package's ``src/module.py``."""
    found = module_classes(package, name)
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise LoadError(f"{ENTRY} must define exactly one subclass of Module (found {names})")
    return found[0]


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Served:
    """The module instance and its handlers, as the runner calls them. ``confined``: in a
    process of its own, narrowed before the module loads; not confined: a trusted module in the
    runner's own process (isolation none), imported under ``name``."""

    def __init__(
        self, transport: Transport, *, confined: bool = True, name: str = "module"
    ) -> None:
        self.transport = transport
        self.confined = confined
        self.name = name
        self.instance: Module | None = None
        self.stopped = asyncio.Event()

    async def handle(self, op: str, args: dict[str, Any]) -> Any:
        if op == "init":
            return await self._init(args)
        if self.instance is None:
            raise BadInputError(f"{op} before init")
        return await self._served(self.instance, op, args)

    async def _init(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            raise BadInputError("init twice")
        enforced = Enforced(notes=["not confined: a trusted module in the runner's process"])
        if self.confined:
            try:
                enforced = confine(
                    Confinement(
                        limits=Limits(**args["limits"]),
                        workdir=os.getcwd(),
                        readable=(args["package"], *args.get("readable", ())),
                        writable=tuple(args.get("writable", ())),
                        pids_cgroup=args.get("pids_cgroup"),
                        cpu_cgroup=args.get("cpu_cgroup"),
                    )
                )
            except (ConfinementError, OSError) as error:
                raise LoadError(f"the process could not be confined: {error}") from None
        try:
            cls = load(Path(args["package"]), self.name)
            sdk = Sdk(self.transport, Identity(**args["identity"]), dict(args.get("config") or {}))
            instance = cls(sdk)
            await instance.initialize(dict(sdk.config.values))
            await instance.start()
        except LoadError:
            raise
        except Exception as error:
            raise LoadError(
                f"the module failed to start: {type(error).__name__}: {error}"
            ) from None
        self.instance = instance
        return {
            "routes": [
                {"handler": name, "path": spec.path, "methods": list(spec.methods)}
                for name, spec in cls.routes().items()
            ],
            "subscriptions": sorted(set(cls.subscriptions().values())),
            "workflows": [asdict(spec) for spec in cls.workflows().values()],
            "enforced": asdict(enforced),
        }

    async def _served(self, instance: Module, op: str, args: dict[str, Any]) -> Any:
        if op == "request":
            handler = getattr(instance, str(args["handler"]))
            answer = await _maybe(handler(Request(**args["request"])))
            if isinstance(answer, Response):
                return {"status": answer.status, "body": answer.body, "headers": answer.headers}
            return {"status": 200, "body": answer, "headers": {}}
        if op == "event":
            event = Event(**args["event"])
            for name, topic in type(instance).subscriptions().items():
                if _topic_matches(topic, event.topic):
                    await _maybe(getattr(instance, name)(event))
            return None
        if op == "workflow":
            for name, spec in type(instance).workflows().items():
                if spec.name == args["name"]:
                    return await _maybe(getattr(instance, name)(args.get("input")))
            raise BadInputError(f"no workflow {args['name']}")
        if op == "health":
            return await instance.health()
        if op == "configure":
            instance.sdk.config.values = dict(args["config"])
            await instance.configuration_changed(dict(args["config"]))
            return None
        if op == "stop":
            await instance.stop()
            self.stopped.set()
            return None
        raise BadInputError(f"unknown call {op}")


def _topic_matches(pattern: str, topic: str) -> bool:
    return fnmatch.fnmatchcase(topic, pattern)


async def serve(fd: int = SOCKET_FD) -> None:
    sock = socket.socket(fileno=fd)
    served: Served | None = None

    async def handle(op: str, args: dict[str, Any]) -> Any:
        assert served is not None  # noqa: S101 - set before the first message is read
        return await served.handle(op, args)

    channel = await Channel.over_socket(sock, handle)
    served = Served(channel)
    reading = asyncio.create_task(channel.serve())
    stopped = asyncio.create_task(served.stopped.wait())
    await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0.05)  # let the answer to stop go out
    await channel.close()


def main() -> None:
    """``python -I -B -m adx_module_sdk.process --fd N``: serve the runner on socket N."""
    die_with_parent()
    fd = int(sys.argv[sys.argv.index("--fd") + 1]) if "--fd" in sys.argv else SOCKET_FD
    asyncio.run(serve(fd))


if __name__ == "__main__":
    main()
