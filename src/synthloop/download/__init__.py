"""Fetching images over HTTP for URL datasets: the settings, the async client, the checks on what came back."""
