"""How much each page grew from the small register to the large one (scripts/bench).

BENCH growth <scenario> small_ms=<p50> large_ms=<p50> ratio=<large/small>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: str) -> dict[str, dict]:
    return {
        row["scenario"]: row for row in map(json.loads, Path(path).read_text().splitlines()) if row
    }


def main(small_path: str, large_path: str) -> None:
    small, large = load(small_path), load(large_path)
    for scenario, row in small.items():
        if scenario not in large:
            raise SystemExit(f"growth: {scenario} was not measured at the large size")
        ratio = large[scenario]["p50_ms"] / row["p50_ms"]
        print(
            f"BENCH growth {scenario} small_members={row['members']} "
            f"large_members={large[scenario]['members']} small_ms={row['p50_ms']:.1f} "
            f"large_ms={large[scenario]['p50_ms']:.1f} ratio={ratio:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
