"""Reply text: templates with {name} and {link}, and splitting into GroupMe's 1000-character posts."""

GROUPME_TEXT_LIMIT = 1000
PLACEHOLDERS = ("{name}", "{link}")


def reply_render(template: str, *, name: str, link: str = "") -> str:
    """Fills only the known placeholders; any other braces are the tenant's text and stay as written."""
    return template.replace("{name}", name).replace("{link}", link).strip()


def reply_split(text: str, *, limit: int = GROUPME_TEXT_LIMIT) -> list[str]:
    """Ordered parts of at most `limit` characters, cut at the last whitespace before the limit when there is one."""
    parts: list[str] = []
    remaining = text.strip()
    while len(remaining) > limit:
        cut = remaining.rfind(" ", 0, limit + 1)
        newline = remaining.rfind("\n", 0, limit + 1)
        cut = max(cut, newline)
        if cut <= 0:
            cut = limit  # one word longer than a post: cut it
        parts.append(remaining[:cut].rstrip())
        remaining = remaining[cut:].lstrip()
    if remaining:
        parts.append(remaining)
    return parts
