/* weft CNI plugin: verb dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND");

	if (cmd && !strcmp(cmd, "VERSION")) {
		printf("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":"
		       "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
		return 0;
	}
	printf("{\"cniVersion\":\"1.1.0\",\"code\":4,\"msg\":\"unsupported CNI_COMMAND\"}\n");
	return 1;
}
