"""The local web app (python app.py): Gradio pages over demo.py's Demo and stylize.py's run."""
