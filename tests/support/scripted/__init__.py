"""The scripted upstream's pieces: the script (what to answer) and one wire format per dialect."""
