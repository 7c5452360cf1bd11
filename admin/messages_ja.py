JA = {}
