/* token_cmd.h - `junction token`: mint an access token for a developer or a script. */
#ifndef J_APP_TOKEN_CMD_H
#define J_APP_TOKEN_CMD_H

/* token_cmd_main - run the command; argv[0] is "token". Prints the token and a newline to
 * stdout. The API key pair comes from --api-key/--api-secret, else from the server's
 * configuration (--config FILE, JUNCTION_CONFIG, JUNCTION_AUTH_API_KEY/_SECRET). Returns the
 * process exit status: 0, or 2 with a message on stderr. */
int token_cmd_main(int argc, char **argv);

#endif
