"""Views: pure functions from decisions and their traces to the JSON document, text, CSV, XLSX and HTML."""
