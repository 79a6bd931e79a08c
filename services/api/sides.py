"""Moved to services/query/sides.py (the email digest needs it below the API layer); this name
stays for code written against it before the move. Import services.query.sides."""

from services.query.sides import SIDE_LABELS, SIDES, claims, group_by_side, side_of

__all__ = ["SIDES", "SIDE_LABELS", "claims", "group_by_side", "side_of"]
