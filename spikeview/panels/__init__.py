"""Forms that turn user input into requests to a controller (or changes of the session) and show the
state they report: training, inference, the SNNDeep study, the runs list, the dataset browser and
the view toolbar. They draw results through views; they never call the engine."""
