
use builtin;
use str;

set edit:completion:arg-completer[graphwatch] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'graphwatch'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'graphwatch'= {
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand login 'Sign in with a device code and keep the tokens for the profile'
            cand logout 'Forget the profile''s tokens'
            cand whoami 'Show the signed-in account, tenant, scopes and token expiry (never a token)'
            cand endpoint 'Request the socket.io endpoint of a drive or list once and print it as JSON'
            cand drive 'Watch one drive or document library and write each notification as it arrives'
            cand list 'Watch one SharePoint list and write each notification as it arrives'
            cand watch 'Watch several drives and lists at once, as one merged stream'
            cand emulator 'Serve the local Graph emulator until stopped'
            cand demo 'See it work with no account: watch the built-in emulator while it makes changes'
            cand completions 'Print a shell completion script'
            cand schema 'Print the JSON Schema of a line type of the stream (all of them without TYPE)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'graphwatch;login'= {
            cand --scope 'Ask for this scope too (repeatable), e.g. --scope Files.Read.All'
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;logout'= {
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;whoami'= {
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;endpoint'= {
            cand --drive 'The drive or document library: me, a drive id, user:UPN, group:ID, site:ID or a SharePoint URL'
            cand --list 'The SharePoint list: a list URL, or SITE/LIST'
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;drive'= {
            cand --template 'One line per event from {field.path} placeholders, e.g. ''{time} {target} {data.resource}'''
            cand --jq 'A jq filter over each event''s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq ''select(.change == "deleted") | .item.name'''
            cand --coalesce 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]'
            cand -n 'Exit 0 after N events were written'
            cand --count 'Exit 0 after N events were written'
            cand --timeout 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached'
            cand --exec 'Run CMD through the shell once per event: the event''s JSON line on its stdin, GRAPHWATCH_* variables in its environment'
            cand --backoff 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]'
            cand --start-wait 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once [default: 2m]'
            cand --state 'Keep each target''s delta cursor in FILE: a restart writes what changed while it was down'
            cand --poll 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]'
            cand --fallback-poll 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]'
            cand --path 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports'
            cand --debounce 'Quiet time after the last notification of a burst before a delta round [default: 500ms]'
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand --status-events 'Also write `status` lines (connected, disconnected, fallback, lost) and, with --changes, `gap` lines when changes may have been missed or come late'
            cand --changes 'On notifications, ask delta what changed and write one `change` line per changed item'
            cand --no-socket 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)'
            cand --initial 'First write every current item once as an `existing` line, then watch'
            cand --folders 'Also write folders whose only change is in something inside them'
            cand --notifications 'Keep the raw `notification` lines in the stream too'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;list'= {
            cand --template 'One line per event from {field.path} placeholders, e.g. ''{time} {target} {data.resource}'''
            cand --jq 'A jq filter over each event''s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq ''select(.change == "deleted") | .item.name'''
            cand --coalesce 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]'
            cand -n 'Exit 0 after N events were written'
            cand --count 'Exit 0 after N events were written'
            cand --timeout 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached'
            cand --exec 'Run CMD through the shell once per event: the event''s JSON line on its stdin, GRAPHWATCH_* variables in its environment'
            cand --backoff 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]'
            cand --start-wait 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once [default: 2m]'
            cand --state 'Keep each target''s delta cursor in FILE: a restart writes what changed while it was down'
            cand --poll 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]'
            cand --fallback-poll 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]'
            cand --debounce 'Quiet time after the last notification of a burst before a delta round [default: 500ms]'
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand --path 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand --status-events 'Also write `status` lines (connected, disconnected, fallback, lost) and, with --changes, `gap` lines when changes may have been missed or come late'
            cand --changes 'On notifications, ask delta what changed and write one `change` line per changed item'
            cand --no-socket 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)'
            cand --initial 'First write every current item once as an `existing` line, then watch'
            cand --folders 'Also write folders whose only change is in something inside them'
            cand --notifications 'Keep the raw `notification` lines in the stream too'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;watch'= {
            cand --drive 'A drive or document library to watch (repeatable)'
            cand --list 'A SharePoint list to watch (repeatable)'
            cand --template 'One line per event from {field.path} placeholders, e.g. ''{time} {target} {data.resource}'''
            cand --jq 'A jq filter over each event''s JSON line: strings are written raw, other values as JSON, one line each; `empty` drops the event (not written, not counted, not run by --exec), e.g. --jq ''select(.change == "deleted") | .item.name'''
            cand --coalesce 'Fold identical notifications of a target within DURATION into the first, or `off` [default: 2s with --exec or pretty output, off otherwise]'
            cand -n 'Exit 0 after N events were written'
            cand --count 'Exit 0 after N events were written'
            cand --timeout 'Stop after DURATION (30s, 5m, 1h30m); exit 124 if --count was given and not reached'
            cand --exec 'Run CMD through the shell once per event: the event''s JSON line on its stdin, GRAPHWATCH_* variables in its environment'
            cand --backoff 'Wait FIRST after a lost link, doubling up to MAX, e.g. 1s..60s [default: 1s..60s]'
            cand --start-wait 'At start, wait up to DURATION for Graph to answer (a network not up yet, Graph busy) before giving up with exit 1; 0 gives up at once [default: 2m]'
            cand --state 'Keep each target''s delta cursor in FILE: a restart writes what changed while it was down'
            cand --poll 'Also run a delta round when INTERVAL passed without one [default: 5m; 1m with --no-socket]'
            cand --fallback-poll 'While the socket cannot be opened, run a delta round every INTERVAL [default: 30s]'
            cand --path 'Drives only: write changes of items under this folder only, e.g. /Documents/Reports'
            cand --debounce 'Quiet time after the last notification of a burst before a delta round [default: 500ms]'
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --graph-url 'Graph base URL [default: https://graph.microsoft.com/v1.0]'
            cand --login-url 'Sign-in service base URL [default: https://login.microsoftonline.com]'
            cand --tenant 'Tenant: common, organizations, consumers, a tenant id or domain [default: common]'
            cand --client-id 'Public client (application) id [default: 14d82eec-204b-4c2f-b7e8-296a70dab67e, Microsoft Graph Command Line Tools]'
            cand --access-token 'Use this bearer token as is: no token cache, no sign-in (prefer the env variable: arguments are visible to other users of the machine)'
            cand --profile 'Token cache to use, for several accounts: letters, digits, - and _ [default: default]'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand --status-events 'Also write `status` lines (connected, disconnected, fallback, lost) and, with --changes, `gap` lines when changes may have been missed or come late'
            cand --changes 'On notifications, ask delta what changed and write one `change` line per changed item'
            cand --no-socket 'Open no socket: find changes by polling delta every --poll INTERVAL (implies --changes)'
            cand --initial 'First write every current item once as an `existing` line, then watch'
            cand --folders 'Also write folders whose only change is in something inside them'
            cand --notifications 'Keep the raw `notification` lines in the stream too'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;emulator'= {
            cand --port 'Port on 127.0.0.1 (0 picks a free one; the first stdout line tells which)'
            cand --ping-interval-ms 'Engine.IO ping interval in milliseconds'
            cand --ping-timeout-ms 'Engine.IO ping timeout in milliseconds'
            cand --persist 'Keep data, tokens and subscriptions in this JSON file, so a restarted emulator carries on'
            cand --approve-after-polls 'Token polls before a device code is approved automatically (0 = only by hand at /devicelogin)'
            cand --device-code-interval-secs 'Polling interval, in seconds, that the device-code endpoint asks for'
            cand --device-code-lifetime-secs 'Lifetime of a device code, in seconds'
            cand --token-lifetime-secs 'Lifetime of an access token, in seconds'
            cand --subscription-lifetime-secs 'Lifetime of a socketIo subscription, in seconds; its sockets are disconnected when it ends'
            cand --notify-delay-ms 'Delay between a change and its notification, in milliseconds (the live service: 5-36 s)'
            cand --notify-duplicates 'How many times each notification is sent (the live service often sends two)'
            cand --delta-page-size 'Items per delta page'
            cand --delta-lag-ms 'A change becomes visible to delta only this many milliseconds after it is made'
            cand --clock-skew-secs 'The emulator''s clock runs this many seconds ahead of the machine''s (negative: behind); its Date headers and subscriptions'' expirationDateTime follow it'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;demo'= {
            cand -o 'Output format [default: pretty on a terminal, json otherwise]'
            cand --output 'Output format [default: pretty on a terminal, json otherwise]'
            cand --template 'One line per event from {field.path} placeholders, as for `graphwatch drive`'
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;completions'= {
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;schema'= {
            cand --color 'When to use colours on the terminal [default: auto; NO_COLOR=1 means never]'
            cand -v 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand --verbose 'More diagnostics on stderr (-v info, -vv debug, -vvv trace)'
            cand -q 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand --quiet 'Only errors on stderr (prompts that sign-in needs are still shown)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'graphwatch;help'= {
            cand login 'Sign in with a device code and keep the tokens for the profile'
            cand logout 'Forget the profile''s tokens'
            cand whoami 'Show the signed-in account, tenant, scopes and token expiry (never a token)'
            cand endpoint 'Request the socket.io endpoint of a drive or list once and print it as JSON'
            cand drive 'Watch one drive or document library and write each notification as it arrives'
            cand list 'Watch one SharePoint list and write each notification as it arrives'
            cand watch 'Watch several drives and lists at once, as one merged stream'
            cand emulator 'Serve the local Graph emulator until stopped'
            cand demo 'See it work with no account: watch the built-in emulator while it makes changes'
            cand completions 'Print a shell completion script'
            cand schema 'Print the JSON Schema of a line type of the stream (all of them without TYPE)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'graphwatch;help;login'= {
        }
        &'graphwatch;help;logout'= {
        }
        &'graphwatch;help;whoami'= {
        }
        &'graphwatch;help;endpoint'= {
        }
        &'graphwatch;help;drive'= {
        }
        &'graphwatch;help;list'= {
        }
        &'graphwatch;help;watch'= {
        }
        &'graphwatch;help;emulator'= {
        }
        &'graphwatch;help;demo'= {
        }
        &'graphwatch;help;completions'= {
        }
        &'graphwatch;help;schema'= {
        }
        &'graphwatch;help;help'= {
        }
    ]
    $completions[$command]
}
