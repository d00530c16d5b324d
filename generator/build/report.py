"""What a build did: per-technique counts and times, failures; printed as a table or written as JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generator.atomic import atomic_write_text


@dataclass
class Failure:
    where: str  # "technique/image/model", "technique (render)", "images", ...
    message: str  # one line


@dataclass
class TechniqueStats:
    computed: int = 0
    cached: int = 0
    compute_s: float = 0.0
    render_s: float = 0.0
    rendered: bool = False
    figures: int = 0


@dataclass
class BuildReport:
    profile: str = ""
    device: str = ""
    failures: list[Failure] = field(default_factory=list)
    stats: dict[str, TechniqueStats] = field(default_factory=dict)
    images: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "profile": self.profile,
            "device": self.device,
            "images": self.images,
            "seconds": round(self.seconds, 3),
            "techniques": {
                name: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(s).items()}
                for name, s in self.stats.items()
            },
            "failures": [asdict(f) for f in self.failures],
        }

    def write_json(self, path: Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.as_dict(), indent=1) + "\n")

    def print_table(self, err=None) -> None:
        err = err or sys.stderr
        if self.stats:
            print(
                f"\n{'technique':<26}{'computed':>9}{'cached':>8}{'compute s':>11}{'render s':>10}{'figures':>9}",
                file=err,
            )
            for name, s in self.stats.items():
                render = f"{s.render_s:.1f}" if s.rendered else "-"
                figs = str(s.figures) if s.rendered else "-"
                print(f"{name:<26}{s.computed:>9}{s.cached:>8}{s.compute_s:>11.1f}{render:>10}{figs:>9}", file=err)
        print(f"\n{self.images} images, {self.seconds:.1f} s", file=err)
        if self.failures:
            print(f"\n{len(self.failures)} problem(s):", file=err)
            for f in self.failures:
                print(f"  - {f.where}: {f.message}", file=err)
