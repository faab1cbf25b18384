"""/v1/users: profiles and a user's events."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, PathParameter, QueryParameter

from application.ports.queries import EventFilter
from application.views import EventView, Page, UserView
from domain.errors import NotFound
from entrypoints.api.auth import Role, requires
from entrypoints.api.deps import Queries
from entrypoints.api.errors import ERROR_RESPONSES

UserId = Annotated[str, PathParameter(min_length=1, max_length=50)]


class UsersController(Controller):
    path = "/v1/users"
    tags = ["users"]
    guards = [requires(Role.READ)]

    @get("/{user_id:str}", responses=ERROR_RESPONSES, operation_id="getUser", sync_to_thread=True)
    def get_user(self, queries: Queries, user_id: UserId) -> UserView:
        """Profile and totals, with the churn probability once a churn model has scored the user."""
        user = queries.user(user_id)
        if user is None:
            raise NotFound(f"no user {user_id!r}")
        return user

    @get("/{user_id:str}/events", responses=ERROR_RESPONSES, operation_id="listUserEvents", sync_to_thread=True)
    def user_events(
        self,
        queries: Queries,
        user_id: UserId,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        cursor: FromQuery[str | None] = None,
    ) -> Page[EventView]:
        """The user's events, newest first."""
        return queries.events(EventFilter(user_id=user_id), limit, cursor)
