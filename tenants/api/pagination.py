from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Constant-cost pages however large a table grows. Ids are UUIDv7, so ordering by id is ordering by age."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
