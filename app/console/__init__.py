"""The web console: server-rendered pages for coordinators, township offices and admins.

Pages are another face of the same services as the API: a page handler parses, authorizes through the
console's session dependencies, calls a service and renders a template.
"""
