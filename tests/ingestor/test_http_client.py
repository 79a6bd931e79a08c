"""The shared HTTP client against an in-process transport (no sockets): public IP literals
stand in for public hosts, so no DNS is needed."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import httpx
import pytest

from services.common.netguard import BlockedAddress, NetPolicy
from services.ingestor.http import HTML_TYPES, FetchError, SafeHttpClient
from services.ingestor.settings import IngestorSettings

PUBLIC = "http://93.184.216.34"


def client(
    settings: IngestorSettings, handler: Callable[[httpx.Request], httpx.Response]
) -> SafeHttpClient:
    return SafeHttpClient(settings, transport=httpx.MockTransport(handler))


def routes(table: dict[str, httpx.Response]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return table.get(request.url.path, httpx.Response(404))

    return handler


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.5", "169.254.169.254", "::1", "fe80::1",
     "100.64.0.1", "0.0.0.0", "fd00:ec2::254", "::ffff:127.0.0.1"],
)  # fmt: skip
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    with pytest.raises(BlockedAddress):
        NetPolicy().check_ip(ipaddress.ip_address(address))


def test_loopback_is_allowed_only_when_settings_say_so() -> None:
    NetPolicy(allow_loopback=True).check_ip(ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(BlockedAddress):
        NetPolicy(allow_loopback=True).check_ip(ipaddress.ip_address("10.0.0.1"))


def test_metadata_address_is_refused_even_when_private_networks_are_allowed() -> None:
    with pytest.raises(BlockedAddress):
        NetPolicy(allow_loopback=True, allow_private=True).check_ip(
            ipaddress.ip_address("169.254.169.254")
        )


def test_honest_user_agent_and_host_header_are_sent(settings: IngestorSettings) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="<html></html>", headers={"content-type": "text/html"})

    result = client(settings, handler).get(f"{PUBLIC}/page")
    page = [r for r in seen if r.url.path == "/page"][0]
    assert page.headers["user-agent"].startswith("caucasus-watch-ingestor/")
    assert page.headers["host"] == "93.184.216.34"
    assert result.body == b"<html></html>" and result.content_type == "text/html"


def test_redirect_to_a_private_address_is_refused_after_the_hop(settings: IngestorSettings) -> None:
    handler = routes({"/go": httpx.Response(302, headers={"location": "http://10.0.0.7/admin"})})
    with pytest.raises(FetchError) as info:
        client(settings, handler).get(f"{PUBLIC}/go")
    assert info.value.reason == "blocked_address"
    assert "10.0.0.7" in str(info.value)


def test_redirects_are_followed_up_to_the_limit(settings: IngestorSettings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path[2:].isdigit():
            n = int(request.url.path[2:])
            return httpx.Response(301, headers={"location": f"/r{n + 1}" if n < 9 else "/end"})
        if request.url.path == "/end":
            return httpx.Response(200, text="done", headers={"content-type": "text/html"})
        return httpx.Response(404)

    with pytest.raises(FetchError) as info:
        client(settings, handler).get(f"{PUBLIC}/r0")
    assert info.value.reason == "too_many_redirects"
    result = client(settings, handler).get(f"{PUBLIC}/r6")
    assert result.final_url == f"{PUBLIC}/end" and result.body == b"done"


def test_body_larger_than_the_limit_is_refused(settings: IngestorSettings) -> None:
    small = settings.model_copy(update={"http_max_body_bytes": 1000})
    handler = routes(
        {"/big": httpx.Response(200, content=b"x" * 5000, headers={"content-type": "text/html"})}
    )
    with pytest.raises(FetchError) as info:
        client(small, handler).get(f"{PUBLIC}/big")
    assert info.value.reason == "too_large"


def test_unexpected_content_type_is_refused(settings: IngestorSettings) -> None:
    handler = routes(
        {"/img": httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})}
    )
    with pytest.raises(FetchError) as info:
        client(settings, handler).get(f"{PUBLIC}/img", accept=HTML_TYPES)
    assert info.value.reason == "bad_content_type"


def test_http_errors_carry_the_status(settings: IngestorSettings) -> None:
    with pytest.raises(FetchError) as info:
        client(settings, routes({})).get(f"{PUBLIC}/missing")
    assert info.value.reason == "http_404"


def test_conditional_get_sends_validators_and_reports_not_modified(
    settings: IngestorSettings,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(
            200, text="<rss/>", headers={"etag": '"v1"', "content-type": "application/rss+xml"}
        )

    http = client(settings, handler)
    first = http.get(f"{PUBLIC}/feed")
    assert first.etag == '"v1"' and not first.not_modified
    assert http.get(f"{PUBLIC}/feed", etag=first.etag).not_modified


def test_robots_txt_disallow_is_respected(settings: IngestorSettings) -> None:
    handler = routes(
        {
            "/robots.txt": httpx.Response(200, text="User-agent: *\nDisallow: /private/\n"),
            "/private/a": httpx.Response(200, text="secret", headers={"content-type": "text/html"}),
            "/public/a": httpx.Response(200, text="ok", headers={"content-type": "text/html"}),
        }
    )
    http = client(settings, handler)
    assert http.get(f"{PUBLIC}/public/a").body == b"ok"
    with pytest.raises(FetchError) as info:
        http.get(f"{PUBLIC}/private/a")
    assert info.value.reason == "robots_disallowed"


def test_missing_robots_txt_allows_everything(settings: IngestorSettings) -> None:
    handler = routes({"/a": httpx.Response(200, text="ok", headers={"content-type": "text/html"})})
    assert client(settings, handler).get(f"{PUBLIC}/a").body == b"ok"


def test_non_http_schemes_are_refused(settings: IngestorSettings) -> None:
    with pytest.raises(FetchError) as info:
        client(settings, routes({})).get("file:///etc/passwd")
    assert info.value.reason == "blocked_address"


def test_robots_txt_behind_a_redirect_is_followed(settings: IngestorSettings) -> None:
    handler = routes(
        {
            "/robots.txt": httpx.Response(301, headers={"location": "/robots-real.txt"}),
            "/robots-real.txt": httpx.Response(200, text="User-agent: *\nDisallow: /\n"),
        }
    )
    with pytest.raises(FetchError) as info:
        client(settings, handler).get(f"{PUBLIC}/anything")
    assert info.value.reason == "robots_disallowed"


def test_robots_txt_names_our_user_agent_token(settings: IngestorSettings) -> None:
    handler = routes(
        {
            "/robots.txt": httpx.Response(
                200,
                text="User-agent: caucasus-watch-ingestor\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
            ),
            "/a": httpx.Response(200, text="ok", headers={"content-type": "text/html"}),
        }
    )
    with pytest.raises(FetchError):
        client(settings, handler).get(f"{PUBLIC}/a")


def _streamed(content: bytes, **headers: str) -> httpx.Response:
    """A response whose body arrives in chunks, as from a socket (not read in advance)."""
    chunks = [content[i : i + 8192] for i in range(0, len(content), 8192)]
    return httpx.Response(
        200, content=iter(chunks), headers={"content-type": "text/html", **headers}
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bomb_is_refused_at_the_cap_while_streaming(
    settings: IngestorSettings, encoding: str
) -> None:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    block = b"\0" * (1 << 20)
    bomb = b"".join(packer.compress(block) for _ in range(64)) + packer.flush()
    small = settings.model_copy(update={"http_max_body_bytes": 1_000_000})

    def handler(request: httpx.Request) -> httpx.Response:
        return _streamed(bomb, **{"content-encoding": encoding})

    with pytest.raises(FetchError) as info:
        client(small, handler).get(f"{PUBLIC}/bomb")
    assert info.value.reason == "too_large"


def test_compressed_body_within_the_cap_is_decoded(settings: IngestorSettings) -> None:
    import gzip

    def handler(request: httpx.Request) -> httpx.Response:
        return _streamed(gzip.compress(b"<html>ok</html>"), **{"content-encoding": "gzip"})

    assert client(settings, handler).get(f"{PUBLIC}/page").body == b"<html>ok</html>"


def test_unannounced_content_encoding_is_a_fetch_error(settings: IngestorSettings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _streamed(b"\x0b\x02\x80hello\x03", **{"content-encoding": "br"})

    with pytest.raises(FetchError) as info:
        client(settings, handler).get(f"{PUBLIC}/page")
    assert info.value.reason == "bad_encoding"


@pytest.mark.parametrize("bad", ["/a\x7fb", "/a\x01b", "/a\u0085b"])
def test_control_characters_in_a_url_are_a_fetch_error_not_invalid_url(
    settings: IngestorSettings, bad: str
) -> None:
    with pytest.raises(FetchError) as info:
        client(settings, routes({})).get(f"{PUBLIC}{bad}")
    assert info.value.reason == "invalid_url"


@pytest.mark.parametrize("location", [b"/next\x7f", b"/next\x85"])
def test_control_characters_in_a_redirect_location_are_a_fetch_error(
    settings: IngestorSettings, location: bytes
) -> None:
    handler = routes({"/go": httpx.Response(302, headers=[(b"location", location)])})
    with pytest.raises(FetchError):
        client(settings, handler).get(f"{PUBLIC}/go")


@pytest.mark.parametrize(
    "error",
    [
        httpx.InvalidURL("bad"),
        httpx.CookieConflict("x"),
        httpx.StreamClosed(),
        ValueError("odd"),
        RuntimeError("bug"),
    ],
)
def test_any_client_exception_becomes_a_fetch_error(
    settings: IngestorSettings, error: Exception
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(FetchError):
        client(settings, handler).get(f"{PUBLIC}/page")


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34:99999/", "http://[::1/", "http://[2002:7f00:1::]/"]
)
def test_unusable_or_embedded_loopback_urls_are_fetch_errors(
    settings: IngestorSettings, url: str
) -> None:
    with pytest.raises(FetchError):
        client(settings, routes({})).get(url)
