"""Write the JSON Schema of every topic contract to schemas/json/ (`make schemas`).

The files are checked in so that non-Python consumers can validate messages; a test fails when
they drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.alert import Alert
from schemas.deadletter import DeadLetter
from schemas.indexed import IndexedEvent
from schemas.raw import RawArticle
from schemas.report import Report

JSON_DIR = Path(__file__).resolve().parent / "json"

CONTRACTS: dict[str, type[BaseModel]] = {
    "raw": RawArticle,
    "report": Report,
    "indexed": IndexedEvent,
    "alert": Alert,
    "deadletter": DeadLetter,
}


def render(model: type[BaseModel]) -> str:
    return (
        json.dumps(model.model_json_schema(mode="serialization"), indent=2, sort_keys=True) + "\n"
    )


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for role, model in CONTRACTS.items():
        path = JSON_DIR / f"{role}.schema.json"
        path.write_text(render(model))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
