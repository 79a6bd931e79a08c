"""Every route of the API declares who may call it: `Depends(require(Role.VIEWER))` (or EDITOR,
ADMIN), or `Depends(OPEN)` for the few that must answer anyone (health, the login page). A
route without either fails tests/api/test_route_roles.py; `mark_roles` writes each route's role
into its OpenAPI operation (`x-cwatch-role`, and the description).

Credentials: `Authorization: Bearer cwt_...` (API tokens), or the `cwatch_session` cookie
(HttpOnly, SameSite=Strict, Secure behind TLS) holding a server-side session. No credential
answers 401, a valid one of too low a role 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import ApiError, TransportError
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from services.common.auth.authenticator import Authenticator
from services.common.auth.credentials import Kind
from services.common.auth.models import LOCAL, Principal
from services.common.auth.roles import Role, allows

SESSION_COOKIE = "cwatch_session"
CSRF_COOKIE = "cwatch_csrf"  # read by the UI and sent back as X-CSRF-Token (double submit)
ROLE_KEY = "x-cwatch-role"

_bearer = HTTPBearer(auto_error=False, description="An API token: `cwatch tokens create`")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The web UI's session, set by login"
)


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def authenticate(request: Request) -> Principal | None:
    """The principal of the request's credential, None without a usable one (cached)."""
    if getattr(request.state, "principal_checked", False):
        principal: Principal | None = request.state.principal
        return principal
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is None:  # the explicit local mode without accounts
        principal = LOCAL
    else:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        try:
            if header and scheme.lower() == "bearer":
                principal = authenticator.principal(value.strip(), (Kind.TOKEN,))
            else:
                cookie = request.cookies.get(SESSION_COOKIE)
                principal = authenticator.principal(cookie, (Kind.SESSION,)) if cookie else None
        except (ApiError, TransportError):
            raise HTTPException(
                status_code=503,
                detail="the account store (Elasticsearch) does not answer; try again",
                headers={"Retry-After": "5"},
            ) from None
        # For the CSRF check: only requests authenticated by the cookie need its token.
        request.state.session_auth = principal is not None and principal.kind == Kind.SESSION
    request.state.principal, request.state.principal_checked = principal, True
    return principal


class Requirement:
    """A route's declared role; FastAPI calls it as a dependency and it returns the principal."""

    def __init__(self, role: Role | None) -> None:
        self.role = role

    def __call__(
        self,
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        _cookie: Annotated[str | None, Depends(_cookie)],
    ) -> Principal | None:
        principal = authenticate(request)
        if self.role is None:
            return principal
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="log in, or send an API token: Authorization: Bearer cwt_...",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not allows(principal.role, self.role):
            raise HTTPException(
                status_code=403, detail=f"this needs the {self.role.value} role or higher"
            )
        return principal


class Open(Requirement):
    """Answers anyone, without looking at credentials (health answers even when the account
    store does not): the reason is stated where it is used."""

    def __init__(self) -> None:
        super().__init__(None)

    def __call__(self) -> None:  # type: ignore[override]
        return None


_REQUIREMENTS = {role: Requirement(role) for role in Role}
OPEN = Open()


def require(role: Role) -> Requirement:
    return _REQUIREMENTS[role]


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Editor = Annotated[Principal, Depends(require(Role.EDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def routes_of(app: FastAPI) -> list[Any]:
    """Every route as served (with the prefixes and dependencies of the routers it came in
    through): `path`, `methods`, `dependant`."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def declared_role(route: Any) -> Requirement | None:
    """The requirement a route declares, searched through its whole dependency tree."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Requirement):
            return dependant.call
        stack.extend(dependant.dependencies)
    return None


def role_name(requirement: Requirement | None) -> str:
    if requirement is None:
        return "undeclared"
    return requirement.role.value if requirement.role else "none (open)"


def mark_roles(app: FastAPI) -> None:
    """Each OpenAPI operation names its role: `x-cwatch-role` and a line of its description."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        if schema.get(ROLE_KEY):
            return schema
        roles = {
            (route.path, method.lower()): role_name(declared_role(route))
            for route in routes_of(app)
            for method in route.methods or ()
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                role = roles.get((path, method), "undeclared")
                operation[ROLE_KEY] = role
                operation["description"] = (
                    f"{operation.get('description') or ''}\n\nRole: {role}.".strip()
                )
        schema[ROLE_KEY] = "viewer < editor < admin"
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def set_session_cookie(response: Response, text: str, max_age_s: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        text,
        max_age=max_age_s,
        path="/",
        httponly=True,
        secure=secure,
        samesite="strict",
    )


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=secure, samesite="strict"
    )
