import asyncio

from bench.pipeline import main

asyncio.run(main())
