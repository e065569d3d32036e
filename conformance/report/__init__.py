"""What a run leaves behind: the results document, the HTML sections, baselines, the diff
command, reproducers and the requirements document."""
