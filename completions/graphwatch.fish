# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_graphwatch_global_optspecs
    string join \n v/verbose q/quiet color= log-format= log-level= h/help V/version
end

function __fish_graphwatch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_graphwatch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_graphwatch_using_subcommand
    set -l cmd (__fish_graphwatch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c graphwatch -n "__fish_graphwatch_needs_command" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_needs_command" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_needs_command" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_needs_command" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "login" -d 'Sign in (in a browser, or with a device code) and keep the tokens for the profile'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "logout" -d 'Forget the profile\'s tokens'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "whoami" -d 'Check the sign-in with the service; show the account, tenant, scopes and token expiry (never a token)'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "endpoint" -d 'Request the socket.io endpoint of a drive or list once and print it as JSON'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "drive" -d 'Watch one drive or document library and write each notification as it arrives'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "list" -d 'Watch one SharePoint list and write each notification as it arrives'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "watch" -d 'Watch several drives and lists at once, as one merged stream'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "emulator" -d 'Serve the local Graph emulator until stopped (the graphwatch-emulator program)'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "demo" -d 'See it work with no account: watch the local emulator while it makes changes'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "schema" -d 'Print the JSON Schema of a line type of the stream (all of them without TYPE)'
complete -c graphwatch -n "__fish_graphwatch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l scope -d 'Ask for this scope too (repeatable), e.g. --scope Files.Read.All' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l browser -d 'Sign in in a web browser (authorization code + PKCE, redirect to http://localhost)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l no-open -d 'With the browser flow: do not open a browser; print the address and take the address the browser ends on, pasted on stdin (SSH, containers)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -l device-code -d 'Sign in with a device code (a code to enter at a web address, on any device)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand login" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand logout" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -l offline -d 'Show what the token cache says, without asking the sign-in service'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand whoami" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l drive -d 'The drive or document library: me, a drive id, user:UPN, group:ID, site:ID or a SharePoint URL' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l list -d 'The SharePoint list: a list URL, or SITE/LIST' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand endpoint" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l template -d 'One line per event from {field.path} placeholders, e.g. \'{time} {target} {data.resource}\'' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l jq -d 'A jq filter over each event\'s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq \'select(.change == "deleted") | .path\'' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l coalesce -d 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l name -d 'Only items whose name matches GLOB, case-insensitive; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l change -d 'Only changes of KIND; repeatable (--changes)' -r -f -a "created\t''
modified\t''
renamed\t''
moved\t''
deleted\t''
existing\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l include -d 'Only items whose path (or previous path) matches REGEX; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l exclude -d 'Leave out items whose path matches REGEX; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -s n -l count -d 'Exit 0 after N events were written' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l timeout -d 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l exec -d 'Run CMD through the shell once per event: the event\'s JSON line on its stdin, GRAPHWATCH_* variables in its environment' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l sink -d 'Deliver every event (as its JSON line, acknowledged before a --changes cursor moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event\'s id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l sink-creds -d 'NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l sink-ca -d 'PEM certificates to trust for the sink\'s TLS besides the system\'s (a private CA)' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l backoff -d 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l start-wait -d 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once, forever never does [default: 2m; forever under systemd]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l shard -d 'Watch only shard I of N of the targets (by a stable hash of each label): N processes given the same SPECs and --shard 1/N … N/N watch each target once' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l rescan -d 'Read SITE/* and --followed-sites again every DURATION and watch the libraries and lists added since [default: 15m]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l state -d 'Keep each target\'s delta cursor in FILE: a restart writes what changed while it was down' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l poll -d 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l fallback-poll -d 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l path -d 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l debounce -d 'Quiet time after the last notification of a burst before a delta round [default: 500ms]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l status-events -d 'Also write `status` lines (connected, disconnected, fallback, lost) and `gap` lines: with --changes when changes may have been missed or come late, and with `dropped` when stdout was read too slowly to keep every notification'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l files-only -d 'Only files: leave out the lines of folders (--changes)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l sink-batch -d 'Webhook: POST each delivery (a round, a burst) as one JSON array instead of one POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from GRAPHWATCH_SINK_SECRET (environment only)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l changes -d 'On notifications, ask delta what changed and write one `change` line per changed item'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l no-socket -d 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l initial -d 'First write every current item once as an `existing` line, then watch'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l folders -d 'Also write folders whose only change is in something inside them'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -l notifications -d 'Keep the raw `notification` lines in the stream too'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand drive" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l template -d 'One line per event from {field.path} placeholders, e.g. \'{time} {target} {data.resource}\'' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l jq -d 'A jq filter over each event\'s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq \'select(.change == "deleted") | .path\'' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l coalesce -d 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l name -d 'Only items whose name matches GLOB, case-insensitive; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l change -d 'Only changes of KIND; repeatable (--changes)' -r -f -a "created\t''
modified\t''
renamed\t''
moved\t''
deleted\t''
existing\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l include -d 'Only items whose path (or previous path) matches REGEX; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l exclude -d 'Leave out items whose path matches REGEX; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -s n -l count -d 'Exit 0 after N events were written' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l timeout -d 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l exec -d 'Run CMD through the shell once per event: the event\'s JSON line on its stdin, GRAPHWATCH_* variables in its environment' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l sink -d 'Deliver every event (as its JSON line, acknowledged before a --changes cursor moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event\'s id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l sink-creds -d 'NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l sink-ca -d 'PEM certificates to trust for the sink\'s TLS besides the system\'s (a private CA)' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l backoff -d 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l start-wait -d 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once, forever never does [default: 2m; forever under systemd]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l shard -d 'Watch only shard I of N of the targets (by a stable hash of each label): N processes given the same SPECs and --shard 1/N … N/N watch each target once' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l rescan -d 'Read SITE/* and --followed-sites again every DURATION and watch the libraries and lists added since [default: 15m]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l state -d 'Keep each target\'s delta cursor in FILE: a restart writes what changed while it was down' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l poll -d 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l fallback-poll -d 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l debounce -d 'Quiet time after the last notification of a burst before a delta round [default: 500ms]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l path -d 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l status-events -d 'Also write `status` lines (connected, disconnected, fallback, lost) and `gap` lines: with --changes when changes may have been missed or come late, and with `dropped` when stdout was read too slowly to keep every notification'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l files-only -d 'Only files: leave out the lines of folders (--changes)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l sink-batch -d 'Webhook: POST each delivery (a round, a burst) as one JSON array instead of one POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from GRAPHWATCH_SINK_SECRET (environment only)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l changes -d 'On notifications, ask delta what changed and write one `change` line per changed item'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l no-socket -d 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l initial -d 'First write every current item once as an `existing` line, then watch'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l folders -d 'Also write folders whose only change is in something inside them'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -l notifications -d 'Keep the raw `notification` lines in the stream too'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand list" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l drive -d 'A drive or document library to watch (repeatable)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l list -d 'A SharePoint list to watch (repeatable)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l template -d 'One line per event from {field.path} placeholders, e.g. \'{time} {target} {data.resource}\'' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l jq -d 'A jq filter over each event\'s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq \'select(.change == "deleted") | .path\'' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l coalesce -d 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l name -d 'Only items whose name matches GLOB, case-insensitive; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l change -d 'Only changes of KIND; repeatable (--changes)' -r -f -a "created\t''
modified\t''
renamed\t''
moved\t''
deleted\t''
existing\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l include -d 'Only items whose path (or previous path) matches REGEX; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l exclude -d 'Leave out items whose path matches REGEX; repeatable (--changes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -s n -l count -d 'Exit 0 after N events were written' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l timeout -d 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l exec -d 'Run CMD through the shell once per event: the event\'s JSON line on its stdin, GRAPHWATCH_* variables in its environment' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l sink -d 'Deliver every event (as its JSON line, acknowledged before a --changes cursor moves): nats://HOST:PORT/SUBJECT or tls://… (JetStream, Nats-Msg-Id = the event\'s id), or https://… (a webhook; http:// on loopback only). stdout still gets the lines' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l sink-creds -d 'NATS credentials file (JWT and seed) for --sink nats://… ; the secret stays in the file' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l sink-ca -d 'PEM certificates to trust for the sink\'s TLS besides the system\'s (a private CA)' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l backoff -d 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l start-wait -d 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once, forever never does [default: 2m; forever under systemd]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l shard -d 'Watch only shard I of N of the targets (by a stable hash of each label): N processes given the same SPECs and --shard 1/N … N/N watch each target once' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l rescan -d 'Read SITE/* and --followed-sites again every DURATION and watch the libraries and lists added since [default: 15m]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l state -d 'Keep each target\'s delta cursor in FILE: a restart writes what changed while it was down' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l poll -d 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l fallback-poll -d 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l path -d 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l debounce -d 'Quiet time after the last notification of a burst before a delta round [default: 500ms]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l graph-url -d 'Graph base URL [default: https://graph.microsoft.com/v1.0]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l login-url -d 'Sign-in service base URL [default: https://login.microsoftonline.com]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l tenant -d 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l client-id -d 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l access-token -d 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l access-token-command -d 'Run CMD (through the shell) for a bearer token, and again when Graph refuses it or it expires: no token cache, no sign-in (e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l profile -d 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l followed-sites -d 'Every document library of the sites you follow (read again every --rescan)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l status-events -d 'Also write `status` lines (connected, disconnected, fallback, lost) and `gap` lines: with --changes when changes may have been missed or come late, and with `dropped` when stdout was read too slowly to keep every notification'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l files-only -d 'Only files: leave out the lines of folders (--changes)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l sink-batch -d 'Webhook: POST each delivery (a round, a burst) as one JSON array instead of one POST per event. The HMAC key of X-Graphwatch-Signature-256 comes from GRAPHWATCH_SINK_SECRET (environment only)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l changes -d 'On notifications, ask delta what changed and write one `change` line per changed item'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l no-socket -d 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l initial -d 'First write every current item once as an `existing` line, then watch'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l folders -d 'Also write folders whose only change is in something inside them'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -l notifications -d 'Keep the raw `notification` lines in the stream too'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand watch" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l port -d 'Port on 127.0.0.1 (0 picks a free one; the first stdout line tells which)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l ping-interval-ms -d 'Engine.IO ping interval in milliseconds' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l ping-timeout-ms -d 'Engine.IO ping timeout in milliseconds' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l persist -d 'Keep data, tokens and subscriptions in this JSON file, so a restarted emulator carries on' -r -F
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l approve-after-polls -d 'Token polls before a device code is approved automatically (0 = only by hand at /devicelogin)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l auth-code-lifetime-secs -d 'Lifetime of an authorization code, in seconds (the live service: about 10 minutes)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l device-code-interval-secs -d 'Polling interval, in seconds, that the device-code endpoint asks for' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l device-code-lifetime-secs -d 'Lifetime of a device code, in seconds' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l token-lifetime-secs -d 'Lifetime of an access token, in seconds' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l subscription-lifetime-secs -d 'Lifetime of a socketIo subscription, in seconds; its sockets are disconnected when it ends' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l notify-delay-ms -d 'Delay between a change and its notification, in milliseconds (the live service: 5-36 s)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l notify-duplicates -d 'How many times each notification is sent (the live service often sends two)' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l delta-page-size -d 'Items per delta page' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l delta-lag-ms -d 'A change becomes visible to delta only this many milliseconds after it is made' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l graph-latency-ms -d 'Every Graph request (lookups, socketIo, delta) is answered this many milliseconds late: the round trip to the live service, tens to hundreds of ms' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l clock-skew-secs -d 'The emulator\'s clock runs this many seconds ahead of the machine\'s (negative: behind); its Date headers and subscriptions\' expirationDateTime follow it' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l device-code-blocked -d 'The device-code endpoint answers as in a tenant whose Conditional Access policy blocks the device-code flow (`AADSTS53003`)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -l authorize-auto-approve -d 'The authorize endpoint approves at once (as the first user, or the `login_hint` one) and redirects, instead of showing its consent page'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand emulator" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -s o -l output -d 'Output format [default: pretty on a terminal, json otherwise]' -r -f -a "json\t'One JSON object per line'
pretty\t'For people'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -l template -d 'One line per event from {field.path} placeholders, as for `graphwatch drive`' -r
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand demo" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand completions" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -l color -d 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]' -r -f -a "auto\t''
always\t''
never\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -l log-format -d 'How stderr is written: text for people, json (a JSON object a line) or journald (<N> syslog priorities) [default: journald when stderr is the journal, else text]' -r -f -a "text\t'For people: `HH:MM:SS message`'
json\t'One JSON object a line'
journald\t'For the journal: `<N>message`, N the syslog priority'"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -l log-level -d 'How much is logged on stderr [default: warn]; -v, -vv, -vvv and -q win over it' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -s v -l verbose -d 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -s q -l quiet -d 'Only errors on stderr (prompts that sign-in needs are still shown)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand schema" -s V -l version -d 'Print version'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "login" -d 'Sign in (in a browser, or with a device code) and keep the tokens for the profile'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "logout" -d 'Forget the profile\'s tokens'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "whoami" -d 'Check the sign-in with the service; show the account, tenant, scopes and token expiry (never a token)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "endpoint" -d 'Request the socket.io endpoint of a drive or list once and print it as JSON'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "drive" -d 'Watch one drive or document library and write each notification as it arrives'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "list" -d 'Watch one SharePoint list and write each notification as it arrives'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "watch" -d 'Watch several drives and lists at once, as one merged stream'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "emulator" -d 'Serve the local Graph emulator until stopped (the graphwatch-emulator program)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "demo" -d 'See it work with no account: watch the local emulator while it makes changes'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "completions" -d 'Print a shell completion script'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "schema" -d 'Print the JSON Schema of a line type of the stream (all of them without TYPE)'
complete -c graphwatch -n "__fish_graphwatch_using_subcommand help; and not __fish_seen_subcommand_from login logout whoami endpoint drive list watch emulator demo completions schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
