"""The platform's containers run as a non-root user.

The image itself (`USER analytics`, uid 10001) and the Kubernetes pods (`runAsNonRoot`) are
checked in tests/deploy; what is left is the way compose starts the image: a service could
put `user: root` back on top of it.
"""

from __future__ import annotations

from tests.deploy.support import compose


def test_no_compose_service_of_our_image_overrides_its_user():
    ours = {name: service for name, service in compose()["services"].items() if service.get("build")}

    assert {"api", "processor", "migrate"} <= set(ours)
    assert {name: service["user"] for name, service in ours.items() if "user" in service} == {}
