"""The local web app (python app.py): Gradio pages over demo.py's animate and stylize.py's run."""
