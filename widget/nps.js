/* placeholder: replaced by the widget implementation */
