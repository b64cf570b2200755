
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'graphwatch' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'graphwatch'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'graphwatch' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in (in a browser, or with a device code) and keep the tokens for the profile')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget the profile''s tokens')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Check the sign-in with the service; show the account, tenant, scopes and token expiry (never a token)')
            [CompletionResult]::new('endpoint', 'endpoint', [CompletionResultType]::ParameterValue, 'Request the socket.io endpoint of a drive or list once and print it as JSON')
            [CompletionResult]::new('drive', 'drive', [CompletionResultType]::ParameterValue, 'Watch one drive or document library and write each notification as it arrives')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Watch one SharePoint list and write each notification as it arrives')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Watch several drives and lists at once, as one merged stream')
            [CompletionResult]::new('emulator', 'emulator', [CompletionResultType]::ParameterValue, 'Serve the local Graph emulator until stopped (the graphwatch-emulator program)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'See it work with no account: watch the local emulator while it makes changes')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of a line type of the stream (all of them without TYPE)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'graphwatch;login' {
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Ask for this scope too (repeatable), e.g. --scope Files.Read.All')
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('--browser', '--browser', [CompletionResultType]::ParameterName, 'Sign in in a web browser (authorization code + PKCE, redirect to http://localhost)')
            [CompletionResult]::new('--no-open', '--no-open', [CompletionResultType]::ParameterName, 'With the browser flow: do not open a browser; print the address and take the address the browser ends on, pasted on stdin (SSH, containers)')
            [CompletionResult]::new('--device-code', '--device-code', [CompletionResultType]::ParameterName, 'Sign in with a device code (a code to enter at a web address, on any device)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;logout' {
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;whoami' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Show what the token cache says, without asking the sign-in service')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;endpoint' {
            [CompletionResult]::new('--drive', '--drive', [CompletionResultType]::ParameterName, 'The drive or document library: me, a drive id, user:UPN, group:ID, site:ID or a SharePoint URL')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'The SharePoint list: a list URL, or SITE/LIST')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;drive' {
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'One line per event from {field.path} placeholders, e.g. ''{time} {target} {data.resource}''')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'A jq filter over each event''s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq ''select(.change == "deleted") | .path''')
            [CompletionResult]::new('--coalesce', '--coalesce', [CompletionResultType]::ParameterName, 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Only items whose name matches GLOB, case-insensitive; repeatable (--changes)')
            [CompletionResult]::new('--change', '--change', [CompletionResultType]::ParameterName, 'Only changes of KIND; repeatable (--changes)')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only items whose path (or previous path) matches REGEX; repeatable (--changes)')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out items whose path matches REGEX; repeatable (--changes)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit 0 after N events were written')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit 0 after N events were written')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run CMD through the shell once per event: the event''s JSON line on its stdin, GRAPHWATCH_* variables in its environment')
            [CompletionResult]::new('--sink', '--sink', [CompletionResultType]::ParameterName, 'Deliver every event (as its JSON line, acknowledged before a --changes cursor moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event''s id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines')
            [CompletionResult]::new('--sink-creds', '--sink-creds', [CompletionResultType]::ParameterName, 'NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file')
            [CompletionResult]::new('--sink-ca', '--sink-ca', [CompletionResultType]::ParameterName, 'PEM certificates to trust for the sink''s TLS besides the system''s (a private CA)')
            [CompletionResult]::new('--backoff', '--backoff', [CompletionResultType]::ParameterName, 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]')
            [CompletionResult]::new('--start-wait', '--start-wait', [CompletionResultType]::ParameterName, 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once, forever never does [default: 2m; forever under systemd]')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Watch only shard I of N of the targets (by a stable hash of each label): N processes given the same SPECs and --shard 1/N … N/N watch each target once')
            [CompletionResult]::new('--rescan', '--rescan', [CompletionResultType]::ParameterName, 'Read SITE/* and --followed-sites again every DURATION and watch the libraries and lists added since [default: 15m]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Keep each target''s delta cursor in FILE: a restart writes what changed while it was down')
            [CompletionResult]::new('--poll', '--poll', [CompletionResultType]::ParameterName, 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]')
            [CompletionResult]::new('--fallback-poll', '--fallback-poll', [CompletionResultType]::ParameterName, 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports')
            [CompletionResult]::new('--debounce', '--debounce', [CompletionResultType]::ParameterName, 'Quiet time after the last notification of a burst before a delta round [default: 500ms]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('--status-events', '--status-events', [CompletionResultType]::ParameterName, 'Also write `status` lines (connected, disconnected, fallback, lost) and `gap` lines: with --changes when changes may have been missed or come late, and with `dropped` when stdout was read too slowly to keep every notification')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'Only files: leave out the lines of folders (--changes)')
            [CompletionResult]::new('--sink-batch', '--sink-batch', [CompletionResultType]::ParameterName, 'Webhook: POST each delivery (a round, a burst) as one JSON array instead of one POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from GRAPHWATCH_SINK_SECRET (environment only)')
            [CompletionResult]::new('--changes', '--changes', [CompletionResultType]::ParameterName, 'On notifications, ask delta what changed and write one `change` line per changed item')
            [CompletionResult]::new('--no-socket', '--no-socket', [CompletionResultType]::ParameterName, 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)')
            [CompletionResult]::new('--initial', '--initial', [CompletionResultType]::ParameterName, 'First write every current item once as an `existing` line, then watch')
            [CompletionResult]::new('--folders', '--folders', [CompletionResultType]::ParameterName, 'Also write folders whose only change is in something inside them')
            [CompletionResult]::new('--notifications', '--notifications', [CompletionResultType]::ParameterName, 'Keep the raw `notification` lines in the stream too')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;list' {
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'One line per event from {field.path} placeholders, e.g. ''{time} {target} {data.resource}''')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'A jq filter over each event''s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq ''select(.change == "deleted") | .path''')
            [CompletionResult]::new('--coalesce', '--coalesce', [CompletionResultType]::ParameterName, 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Only items whose name matches GLOB, case-insensitive; repeatable (--changes)')
            [CompletionResult]::new('--change', '--change', [CompletionResultType]::ParameterName, 'Only changes of KIND; repeatable (--changes)')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only items whose path (or previous path) matches REGEX; repeatable (--changes)')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out items whose path matches REGEX; repeatable (--changes)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit 0 after N events were written')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit 0 after N events were written')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run CMD through the shell once per event: the event''s JSON line on its stdin, GRAPHWATCH_* variables in its environment')
            [CompletionResult]::new('--sink', '--sink', [CompletionResultType]::ParameterName, 'Deliver every event (as its JSON line, acknowledged before a --changes cursor moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event''s id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines')
            [CompletionResult]::new('--sink-creds', '--sink-creds', [CompletionResultType]::ParameterName, 'NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file')
            [CompletionResult]::new('--sink-ca', '--sink-ca', [CompletionResultType]::ParameterName, 'PEM certificates to trust for the sink''s TLS besides the system''s (a private CA)')
            [CompletionResult]::new('--backoff', '--backoff', [CompletionResultType]::ParameterName, 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]')
            [CompletionResult]::new('--start-wait', '--start-wait', [CompletionResultType]::ParameterName, 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once, forever never does [default: 2m; forever under systemd]')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Watch only shard I of N of the targets (by a stable hash of each label): N processes given the same SPECs and --shard 1/N … N/N watch each target once')
            [CompletionResult]::new('--rescan', '--rescan', [CompletionResultType]::ParameterName, 'Read SITE/* and --followed-sites again every DURATION and watch the libraries and lists added since [default: 15m]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Keep each target''s delta cursor in FILE: a restart writes what changed while it was down')
            [CompletionResult]::new('--poll', '--poll', [CompletionResultType]::ParameterName, 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]')
            [CompletionResult]::new('--fallback-poll', '--fallback-poll', [CompletionResultType]::ParameterName, 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]')
            [CompletionResult]::new('--debounce', '--debounce', [CompletionResultType]::ParameterName, 'Quiet time after the last notification of a burst before a delta round [default: 500ms]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('--status-events', '--status-events', [CompletionResultType]::ParameterName, 'Also write `status` lines (connected, disconnected, fallback, lost) and `gap` lines: with --changes when changes may have been missed or come late, and with `dropped` when stdout was read too slowly to keep every notification')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'Only files: leave out the lines of folders (--changes)')
            [CompletionResult]::new('--sink-batch', '--sink-batch', [CompletionResultType]::ParameterName, 'Webhook: POST each delivery (a round, a burst) as one JSON array instead of one POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from GRAPHWATCH_SINK_SECRET (environment only)')
            [CompletionResult]::new('--changes', '--changes', [CompletionResultType]::ParameterName, 'On notifications, ask delta what changed and write one `change` line per changed item')
            [CompletionResult]::new('--no-socket', '--no-socket', [CompletionResultType]::ParameterName, 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)')
            [CompletionResult]::new('--initial', '--initial', [CompletionResultType]::ParameterName, 'First write every current item once as an `existing` line, then watch')
            [CompletionResult]::new('--folders', '--folders', [CompletionResultType]::ParameterName, 'Also write folders whose only change is in something inside them')
            [CompletionResult]::new('--notifications', '--notifications', [CompletionResultType]::ParameterName, 'Keep the raw `notification` lines in the stream too')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;watch' {
            [CompletionResult]::new('--drive', '--drive', [CompletionResultType]::ParameterName, 'A drive or document library to watch (repeatable)')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'A SharePoint list to watch (repeatable)')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'One line per event from {field.path} placeholders, e.g. ''{time} {target} {data.resource}''')
            [CompletionResult]::new('--jq', '--jq', [CompletionResultType]::ParameterName, 'A jq filter over each event''s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq ''select(.change == "deleted") | .path''')
            [CompletionResult]::new('--coalesce', '--coalesce', [CompletionResultType]::ParameterName, 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Only items whose name matches GLOB, case-insensitive; repeatable (--changes)')
            [CompletionResult]::new('--change', '--change', [CompletionResultType]::ParameterName, 'Only changes of KIND; repeatable (--changes)')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Only items whose path (or previous path) matches REGEX; repeatable (--changes)')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out items whose path matches REGEX; repeatable (--changes)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit 0 after N events were written')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit 0 after N events were written')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run CMD through the shell once per event: the event''s JSON line on its stdin, GRAPHWATCH_* variables in its environment')
            [CompletionResult]::new('--sink', '--sink', [CompletionResultType]::ParameterName, 'Deliver every event (as its JSON line, acknowledged before a --changes cursor moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event''s id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines')
            [CompletionResult]::new('--sink-creds', '--sink-creds', [CompletionResultType]::ParameterName, 'NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file')
            [CompletionResult]::new('--sink-ca', '--sink-ca', [CompletionResultType]::ParameterName, 'PEM certificates to trust for the sink''s TLS besides the system''s (a private CA)')
            [CompletionResult]::new('--backoff', '--backoff', [CompletionResultType]::ParameterName, 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]')
            [CompletionResult]::new('--start-wait', '--start-wait', [CompletionResultType]::ParameterName, 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once, forever never does [default: 2m; forever under systemd]')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Watch only shard I of N of the targets (by a stable hash of each label): N processes given the same SPECs and --shard 1/N … N/N watch each target once')
            [CompletionResult]::new('--rescan', '--rescan', [CompletionResultType]::ParameterName, 'Read SITE/* and --followed-sites again every DURATION and watch the libraries and lists added since [default: 15m]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Keep each target''s delta cursor in FILE: a restart writes what changed while it was down')
            [CompletionResult]::new('--poll', '--poll', [CompletionResultType]::ParameterName, 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]')
            [CompletionResult]::new('--fallback-poll', '--fallback-poll', [CompletionResultType]::ParameterName, 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports')
            [CompletionResult]::new('--debounce', '--debounce', [CompletionResultType]::ParameterName, 'Quiet time after the last notification of a burst before a delta round [default: 500ms]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--graph-url', '--graph-url', [CompletionResultType]::ParameterName, 'Graph base URL [default: https://graph.microsoft.com/v1.0]')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Sign-in service base URL [default: https://login.microsoftonline.com]')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]')
            [CompletionResult]::new('--access-token', '--access-token', [CompletionResultType]::ParameterName, 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)')
            [CompletionResult]::new('--access-token-command', '--access-token-command', [CompletionResultType]::ParameterName, 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('--followed-sites', '--followed-sites', [CompletionResultType]::ParameterName, 'Every document library of the sites you follow (read again every --rescan)')
            [CompletionResult]::new('--status-events', '--status-events', [CompletionResultType]::ParameterName, 'Also write `status` lines (connected, disconnected, fallback, lost) and `gap` lines: with --changes when changes may have been missed or come late, and with `dropped` when stdout was read too slowly to keep every notification')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'Only files: leave out the lines of folders (--changes)')
            [CompletionResult]::new('--sink-batch', '--sink-batch', [CompletionResultType]::ParameterName, 'Webhook: POST each delivery (a round, a burst) as one JSON array instead of one POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from GRAPHWATCH_SINK_SECRET (environment only)')
            [CompletionResult]::new('--changes', '--changes', [CompletionResultType]::ParameterName, 'On notifications, ask delta what changed and write one `change` line per changed item')
            [CompletionResult]::new('--no-socket', '--no-socket', [CompletionResultType]::ParameterName, 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)')
            [CompletionResult]::new('--initial', '--initial', [CompletionResultType]::ParameterName, 'First write every current item once as an `existing` line, then watch')
            [CompletionResult]::new('--folders', '--folders', [CompletionResultType]::ParameterName, 'Also write folders whose only change is in something inside them')
            [CompletionResult]::new('--notifications', '--notifications', [CompletionResultType]::ParameterName, 'Keep the raw `notification` lines in the stream too')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;emulator' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port on 127.0.0.1 (0 picks a free one; the first stdout line tells which)')
            [CompletionResult]::new('--ping-interval-ms', '--ping-interval-ms', [CompletionResultType]::ParameterName, 'Engine.IO ping interval in milliseconds')
            [CompletionResult]::new('--ping-timeout-ms', '--ping-timeout-ms', [CompletionResultType]::ParameterName, 'Engine.IO ping timeout in milliseconds')
            [CompletionResult]::new('--persist', '--persist', [CompletionResultType]::ParameterName, 'Keep data, tokens and subscriptions in this JSON file, so a restarted emulator carries on')
            [CompletionResult]::new('--approve-after-polls', '--approve-after-polls', [CompletionResultType]::ParameterName, 'Token polls before a device code is approved automatically (0 = only by hand at /devicelogin)')
            [CompletionResult]::new('--auth-code-lifetime-secs', '--auth-code-lifetime-secs', [CompletionResultType]::ParameterName, 'Lifetime of an authorization code, in seconds (the live service: about 10 minutes)')
            [CompletionResult]::new('--device-code-interval-secs', '--device-code-interval-secs', [CompletionResultType]::ParameterName, 'Polling interval, in seconds, that the device-code endpoint asks for')
            [CompletionResult]::new('--device-code-lifetime-secs', '--device-code-lifetime-secs', [CompletionResultType]::ParameterName, 'Lifetime of a device code, in seconds')
            [CompletionResult]::new('--token-lifetime-secs', '--token-lifetime-secs', [CompletionResultType]::ParameterName, 'Lifetime of an access token, in seconds')
            [CompletionResult]::new('--subscription-lifetime-secs', '--subscription-lifetime-secs', [CompletionResultType]::ParameterName, 'Lifetime of a socketIo subscription, in seconds; its sockets are disconnected when it ends')
            [CompletionResult]::new('--notify-delay-ms', '--notify-delay-ms', [CompletionResultType]::ParameterName, 'Delay between a change and its notification, in milliseconds (the live service: 5-36 s)')
            [CompletionResult]::new('--notify-duplicates', '--notify-duplicates', [CompletionResultType]::ParameterName, 'How many times each notification is sent (the live service often sends two)')
            [CompletionResult]::new('--delta-page-size', '--delta-page-size', [CompletionResultType]::ParameterName, 'Items per delta page')
            [CompletionResult]::new('--delta-lag-ms', '--delta-lag-ms', [CompletionResultType]::ParameterName, 'A change becomes visible to delta only this many milliseconds after it is made')
            [CompletionResult]::new('--graph-latency-ms', '--graph-latency-ms', [CompletionResultType]::ParameterName, 'Every Graph request (lookups, socketIo, delta) is answered this many milliseconds late: the round trip to the live service, tens to hundreds of ms')
            [CompletionResult]::new('--clock-skew-secs', '--clock-skew-secs', [CompletionResultType]::ParameterName, 'The emulator''s clock runs this many seconds ahead of the machine''s (negative: behind); its Date headers and subscriptions'' expirationDateTime follow it')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('--device-code-blocked', '--device-code-blocked', [CompletionResultType]::ParameterName, 'The device-code endpoint answers as in a tenant whose Conditional Access policy blocks the device-code flow (`AADSTS53003`)')
            [CompletionResult]::new('--authorize-auto-approve', '--authorize-auto-approve', [CompletionResultType]::ParameterName, 'The authorize endpoint approves at once (as the first user, or the `login_hint` one) and redirects, instead of showing its consent page')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;demo' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format [default: pretty on a terminal, json otherwise]')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'One line per event from {field.path} placeholders, as for `graphwatch drive`')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;schema' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr (prompts that sign-in needs are still shown)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'graphwatch;help' {
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in (in a browser, or with a device code) and keep the tokens for the profile')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget the profile''s tokens')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Check the sign-in with the service; show the account, tenant, scopes and token expiry (never a token)')
            [CompletionResult]::new('endpoint', 'endpoint', [CompletionResultType]::ParameterValue, 'Request the socket.io endpoint of a drive or list once and print it as JSON')
            [CompletionResult]::new('drive', 'drive', [CompletionResultType]::ParameterValue, 'Watch one drive or document library and write each notification as it arrives')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Watch one SharePoint list and write each notification as it arrives')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Watch several drives and lists at once, as one merged stream')
            [CompletionResult]::new('emulator', 'emulator', [CompletionResultType]::ParameterValue, 'Serve the local Graph emulator until stopped (the graphwatch-emulator program)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'See it work with no account: watch the local emulator while it makes changes')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of a line type of the stream (all of them without TYPE)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'graphwatch;help;login' {
            break
        }
        'graphwatch;help;logout' {
            break
        }
        'graphwatch;help;whoami' {
            break
        }
        'graphwatch;help;endpoint' {
            break
        }
        'graphwatch;help;drive' {
            break
        }
        'graphwatch;help;list' {
            break
        }
        'graphwatch;help;watch' {
            break
        }
        'graphwatch;help;emulator' {
            break
        }
        'graphwatch;help;demo' {
            break
        }
        'graphwatch;help;completions' {
            break
        }
        'graphwatch;help;schema' {
            break
        }
        'graphwatch;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
