from __future__ import annotations


class ApiError(Exception):
    """An answer other than 2xx. `fields` holds the API's field errors of a 400 ({"params": {"nfe": [...]}})."""

    def __init__(self, status: int, body):
        self.status, self.body = status, body
        super().__init__(f"HTTP {status}: {body}")

    def field_lines(self) -> list[str]:
        """Each field error as `path: message`, nested dicts joined by dots."""
        lines = []

        def walk(prefix, value):
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                lines.append(f"{prefix}: {' '.join(value)}" if prefix else " ".join(value))
            else:
                lines.append(f"{prefix}: {value}" if prefix else str(value))

        walk("", self.body)
        return lines
