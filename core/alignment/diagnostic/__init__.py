"""The misalignment self-diagnostic: what it asks (questions), the rounds and answers (survey), a closed round's
anonymous results and perception gaps (results), the same signs measured in the data (signs), the action plan
they lead to (actions), and the diagnostic as the page, the CLI and the leadership meeting read it (report).
"""
