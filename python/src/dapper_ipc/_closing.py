"""The context-manager protocol of the package's objects that own library resources."""


class CleansUpOnExit:
    """``with`` / ``async with``: cleanup() (acleanup() for async with) on the way out."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.acleanup()
