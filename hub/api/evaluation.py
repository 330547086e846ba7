"""The staff evaluation under Decree 335/2025/NĐ-CP: people's entries and the monthly tracking.

- ``GET  /api/v1/evaluation/officers``: the configured officers (name, position, group) for the form;
- ``GET  /api/v1/evaluation/entries?year=&staff=``: signed entries, oldest first;
- ``POST /api/v1/evaluation/entries``: a supervisor or admin enters general-criteria points, days not
  worked, products with errors, excused errors or late products, a transfer or a violation; the entry is
  signed with the user's name and written to the audit log (``evaluation.entry.add``);
- ``GET  /api/v1/evaluation/tracking?year=&staff=``: the officer's months and quarters so far, computed from
  the record and the entries, and stored (``evaluation_months``). A supervisor sees every officer; a user
  whose login name is the officer's id sees their own.

Roles are checked with the access policy's principal (``hub.auth``); the year's full pack stays at
``/api/v1/reports/evaluation`` (personnel department).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import Runtime
from hub.api.reports import Reports
from hub.auth import ANONYMOUS, Principal, Role
from hub.reports.decree335 import decree335_pack
from hub.reports.evaluation_entries import EntryError, EntryStore
from hub.reports.periods import year_period
from protocol.errors import OneStopError
from protocol.topics import is_identifier

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])
_opening = threading.Lock()


def entry_store(request: Request) -> EntryStore:
    """The entries' writer (opened on first use with a connection of its own to the record, closed with the app)."""
    store: EntryStore | None = getattr(request.app.state, "evaluation_entries", None)
    if store is None:
        with _opening:
            store = getattr(request.app.state, "evaluation_entries", None)
            if store is None:
                runtime = request.app.state.runtime
                store = request.app.state.evaluation_entries = EntryStore(runtime.store.connect(), clock=runtime.clock)
    return store


def _principal(request: Request) -> Principal:
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


def _require(request: Request, staff: str | None = None) -> Principal:
    """The caller, if a supervisor or admin (or, with ``staff``, that officer themself)."""
    principal = _principal(request)
    if principal.may(Role.SUPERVISOR):
        return principal
    if staff is not None and principal.authenticated and principal.name == staff:
        return principal
    raise HTTPException(status_code=403, detail="a supervisor or admin role is needed")


def _staff(value: str) -> str:
    if not is_identifier(value):
        raise HTTPException(status_code=422, detail=f"staff: {value!r} is not a valid officer id")
    return value


class EntryIn(BaseModel):
    """One entry as the form sends it."""

    model_config = ConfigDict(extra="forbid")

    staff: str = Field(description="Officer id (as on the tickets).")
    kind: str = Field(description="general, days_off, errors, errors_excused, late_excused, transfer or violation.")
    month: str | None = Field(None, description="YYYY-MM (all kinds but transfer).")
    value: float = Field(1.0, description="Points, days or a count; 1/0 for a violation.")
    day: date | None = Field(None, description="A transfer's first day at the new unit.")
    site: str | None = Field(None, description="A transfer's new unit.")
    note: str = Field("", max_length=500, description="Why (shown in the pack with the signature).")


@router.get("/officers", summary="Officers of the configuration (name, position, task group)")
def officers(request: Request, runtime: Runtime) -> dict[str, Any]:
    """For the supervisor's form; units too, for transfers."""
    _require(request)
    configured = runtime.settings.evaluation.officers
    return {
        "officers": [
            {"staff": k, "name": v.name, "position": v.position, "group": v.group} for k, v in configured.items()
        ],
        "units": [{"site": s.id, "name": s.name} for s in runtime.settings.sites],
        "general_max": runtime.settings.evaluation.decree335.general_max,
    }


@router.get("/entries", summary="Signed entries of a year (optionally one officer)")
def entries(
    request: Request,
    year: Annotated[int, Query(ge=2000, le=2100, description="The year.")],
    staff: Annotated[str | None, Query(description="Only this officer.")] = None,
) -> dict[str, Any]:
    """Oldest first; a later entry for the same officer, kind and month supersedes an earlier one."""
    _require(request, staff)
    store = entry_store(request)
    return {"entries": [e.as_json() for e in store.entries(year, _staff(staff) if staff else None)]}


@router.post("/entries", status_code=201, summary="Enter points or a correction (supervisor or admin)")
def add_entry(request: Request, runtime: Runtime, body: EntryIn) -> dict[str, Any]:
    """Signed with the caller's name and written to the audit log."""
    principal = _require(request)
    staff = _staff(body.staff)
    if body.site is not None and not is_identifier(body.site):
        raise HTTPException(status_code=422, detail=f"site: {body.site!r} is not a valid unit id")
    actor = principal.name or "unknown"
    try:
        entry = entry_store(request).add(
            actor,
            staff,
            body.kind,
            body.month,
            body.value,
            runtime.settings.evaluation.decree335.general_max,
            day=body.day,
            site=body.site,
            note=body.note,
        )
    except EntryError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    runtime.audit.record(actor, "evaluation.entry.add", staff, entry.as_json())
    return entry.as_json()


@router.get("/tracking", summary="An officer's months and quarters so far (stored as computed)")
def tracking(
    request: Request,
    runtime: Runtime,
    record: Reports,
    year: Annotated[int, Query(ge=2000, le=2100, description="The year.")],
    staff: Annotated[str, Query(description="The officer.")],
) -> dict[str, Any]:
    """Monthly task results with the counts behind each, quarters, and the year so far."""
    principal = _require(request, staff)
    officer = _staff(staff)
    period = year_period(year)
    profile = runtime.settings.evaluation.profile_for(period.first)
    if profile is None or profile.method != "decree_335":
        raise HTTPException(status_code=422, detail=f"year: {year} is not judged under Decree 335 by the profiles")
    try:
        pack = decree335_pack(record, runtime.settings, period, profile, officer)
    except OneStopError as error:
        raise HTTPException(status_code=503, detail=str(error)) from None
    if not pack.officers:
        raise HTTPException(status_code=404, detail=f"staff: no dossier or entry for {officer!r} in {year}")
    (found,) = pack.officers
    data = found.as_dict()
    store = entry_store(request)
    store.store_months((officer, m["month"], profile.name, m) for m in data["months"])
    runtime.audit.record(principal.name or "unknown", "evaluation.tracking.read", officer, {"year": year})
    return {"profile": profile.name, "conversions": pack.conversions, **data}
