from releases.management.commands._runner import runner_command

Command = runner_command("apply")
