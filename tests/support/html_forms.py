"""Reads HTML forms the way a browser would, so tests submit exactly what a person's browser submits."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("action", ""), attributes.get("method", "get").lower()))
        elif tag in ("input", "button", "select", "textarea") and self.forms and "name" in attributes:
            self.forms[-1].inputs.append(attributes["name"])
            if attributes.get("type") not in ("submit", "button"):
                self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")


def forms(html: str, base_url: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        form.action = urljoin(base_url, form.action or base_url)
    return parser.forms


def form_with(html: str, base_url: str, *names: str) -> Form:
    """The first form that has all of the named inputs."""
    for form in forms(html, base_url):
        if all(name in form.inputs for name in names):
            return form
    raise AssertionError(f"no form with inputs {names} in page:\n{html[:2000]}")


def form_posting_to(page: object, path_suffix: str) -> Form:
    """The form on a page (an httpx.Response) whose action ends with ``path_suffix``: the button a person presses."""
    text, url = page.text, str(page.url)  # type: ignore[attr-defined]
    for form in forms(text, url):
        if form.action.endswith(path_suffix):
            return form
    raise AssertionError(f"no form posting to {path_suffix} in page:\n{text[:2000]}")


def flow_of(page: object) -> str:
    """The login flow a page's forms carry (the login page is /authorize's answer: its address has none)."""
    return form_with(page.text, str(page.url), "flow").fields["flow"]  # type: ignore[attr-defined]


def is_login_page(response: object) -> bool:
    """/authorize opened a login flow: its answer is the login page, with the legacy form the contract names."""
    try:
        form = form_with(response.text, str(response.url), "flow", "username", "password")  # type: ignore[attr-defined]
    except AssertionError:
        return False
    return response.status_code == 200 and bool(form.fields["flow"])  # type: ignore[attr-defined]
