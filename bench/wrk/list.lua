-- GET a page of 100 heroes: /heroes/?offset=0&limit=100.
wrk.method = "GET"
wrk.path = "/heroes/?offset=0&limit=100"
