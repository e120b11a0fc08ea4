"""Sources: each turns the outside world into Posts on `posts.raw`, keyed by post id."""
