"""The scanner: a site's real pages, loaded in Chromium, checked against its published revision.

`rules` decides (pure functions over recorded observations), `browser` records (Playwright),
`run` ties them to the database, and `jobs` runs a stored scan in the background.
"""
