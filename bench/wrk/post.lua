-- POST /heroes/ with a JSON body: each request creates one hero.
wrk.method = "POST"
wrk.path = "/heroes/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name": "Bench Hero", "age": 42, "secret_name": "Bench Secret"}'
