"""The HTML report: result documents -> one self-contained, offline, interactive page."""

from inspectcli.reports.html.page import PARTS, SECTIONS, ReportInput, build_page

__all__ = ["PARTS", "SECTIONS", "ReportInput", "build_page"]
