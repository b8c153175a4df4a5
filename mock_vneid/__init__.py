"""Mock VNeID: a stand-alone imitation of the national electronic identity OpenID Provider.

For development and tests only. It never imports the broker, and the broker never imports it.
"""
