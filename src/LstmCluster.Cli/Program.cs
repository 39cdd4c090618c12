return LstmCluster.Cli.CliApp.Run(args);
