return Flywheel.Cli.CliApp.Run(args);
