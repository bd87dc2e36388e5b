"""What an operator may do (open, correct, lists, plans), authorised and audited in one place."""
