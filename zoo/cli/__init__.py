"""The zoo's commands: each module registers its commands on cnncost's app when imported, and is
listed in ``zoo.plugin.COMMANDS`` so that cnncost imports it when one of them is asked for."""
