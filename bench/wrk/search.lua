-- GET a filtered, sorted page of 100: ages 20 to 60, oldest first, then by name.
wrk.method = "GET"
wrk.path = "/heroes/?min_age=20&max_age=60&sort=-age,name&limit=100"
