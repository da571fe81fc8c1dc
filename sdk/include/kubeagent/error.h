/* kubeagent SDK — errors that carry a place.
 *
 * Every fallible function in kubeagent and in its plugins returns an int: 0 on
 * success or a negative errno-style code.  The human-readable reason goes into a
 * caller-provided struct ka_error, together with file:line:col when the error is
 * about a file the user wrote (config, Jenkinsfile, kubeconfig).  The struct has
 * fixed-size storage so that reporting an error never allocates. */
#ifndef KUBEAGENT_ERROR_H
#define KUBEAGENT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define KA_ERROR_MSG_MAX 512
#define KA_ERROR_FILE_MAX 256

struct ka_error {
        int code;                     /* negative errno-style code, 0 when unset */
        unsigned line, col;           /* 1-based; 0 when not about a place in a file */
        char file[KA_ERROR_FILE_MAX]; /* "" when not about a file */
        char msg[KA_ERROR_MSG_MAX];   /* one line, never contains a secret */
};

#ifdef __cplusplus
}
#endif
#endif
