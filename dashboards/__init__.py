"""The Dash command center. Reads the Redis live view; never imports `streams`."""
