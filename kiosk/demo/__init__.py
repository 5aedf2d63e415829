"""All demo code in one place: the demo roster (`roster`), the scripted camera of heads
rendered from one photo each (`rendered_camera`), the demo door (`door`) and its headless
run (`headless`).

Only the CLI commands and the UI import this package, and only when a demo is asked for:
a production door never loads demo keys or demo data (an import-linter contract checks
it).
"""
