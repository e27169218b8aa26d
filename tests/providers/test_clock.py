import asyncio

from tests.virtual_clock import VirtualClock


async def test_virtual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = VirtualClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("b", 2)), asyncio.create_task(sleeper("a", 1))]
    await asyncio.sleep(0)
    start = clock.monotonic()
    await clock.advance(1.5)
    assert woke == ["a"]
    await clock.advance(1)
    assert woke == ["a", "b"]
    assert clock.monotonic() - start == 2.5
    await asyncio.gather(*tasks)
