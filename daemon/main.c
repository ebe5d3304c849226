/* weftd: per-node daemon. Options -> context -> event loop. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "version.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: weftd [OPTION]...\n"
		     "weft node daemon: leases a pod subnet from etcd and wires the node into\n"
		     "the VXLAN overlay.\n\n"
		     "  --version            print the version and exit\n"
		     "  --help               print this help and exit\n");
}

int main(int argc, char **argv)
{
	log_init("weftd");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("weftd %s\n", WEFT_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "weftd: unknown option '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	log_err("the daemon is not built yet");
	return 1;
}
